from .pseudo_labelers import NoPositivesLabeler, RandomLabeler, TopKLabeler

__all__ = ['TopKLabeler', 'RandomLabeler', 'NoPositivesLabeler']
