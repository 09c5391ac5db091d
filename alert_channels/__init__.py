"""Alert channels: Slack, Microsoft Teams and signed JSON webhooks that get the alerts
the workspace's admins get by email."""
