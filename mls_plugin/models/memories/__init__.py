from .queue_memory import QueueMemory, gather_rows

__all__ = ['QueueMemory', 'gather_rows']
