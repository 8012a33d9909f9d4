"""Time-based work: scheduled rows and their claim, the periodic ticks, graceful shutdown."""
