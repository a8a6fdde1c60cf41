"""What the cogs share: the Discord client that loads them, who may act, input parsing,
rendering, buttons, error replies and the notifier that carries notices to Discord."""
