"""The staff web console: a Telegram Mini App served by `serve` under /console (see web.py).

Infrastructure like bot/transport: it imports no feature; the features add their pages to
`Registry.console_pages` (bot.app.registry.ConsolePage) and their templates' folders.
"""
