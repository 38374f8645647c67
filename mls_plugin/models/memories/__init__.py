from .queue_memory import QueueMemory

__all__ = ['QueueMemory']
