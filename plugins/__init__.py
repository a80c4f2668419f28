"""regapp's built-in adapters; each module is a pluggy plugin like any third-party one."""
