"""Notifications to reviewers: Slack, Microsoft Teams, email (SMTP), PagerDuty; queued, retried, dead-lettered."""
