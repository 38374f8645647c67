from .pseudo_labelers import BaseLabeler, NoPositivesLabeler, RandomLabeler, TopKLabeler

__all__ = ['BaseLabeler', 'TopKLabeler', 'RandomLabeler', 'NoPositivesLabeler']
