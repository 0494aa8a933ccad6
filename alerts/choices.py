from django.db import models


class ChannelKind(models.TextChoices):
    EMAIL = "email", "Email"
    SLACK = "slack", "Slack"
    WEBHOOK = "webhook", "Webhook"
    APPRISE = "apprise", "Apprise URL"


class Comparator(models.TextChoices):
    GT = ">", ">"
    GE = ">=", ">="
    LT = "<", "<"
    LE = "<=", "<="


class Severity(models.TextChoices):
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"


class NoData(models.TextChoices):
    OK = "ok", "Treat as OK (resolve)"
    ALERT = "alert", "Alert"
    KEEP = "keep", "Keep the current state"


class AlertState(models.TextChoices):
    PENDING = "pending", "Pending"
    FIRING = "firing", "Firing"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"


class NotificationKind(models.TextChoices):
    FIRING = "firing", "Firing"
    RESOLVED = "resolved", "Resolved"
    REMINDER = "reminder", "Reminder"
    ESCALATION = "escalation", "Escalation"
    TEST = "test", "Test"


class NotificationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed (gave up)"


class AttemptOutcome(models.TextChoices):
    SENDING = "sending", "Sending (or interrupted, not yet known)"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    INTERRUPTED = "interrupted", "Interrupted (the worker stopped; the receiver may have it)"


class RuleKind(models.TextChoices):
    THRESHOLD = "threshold", "Threshold"
    ANOMALY = "anomaly", "Anomaly (learned baseline)"


class Match(models.TextChoices):
    ALL = "all", "All conditions"
    ANY = "any", "Any condition"


class Direction(models.TextChoices):
    ABOVE = "above", "Above the baseline"
    BELOW = "below", "Below the baseline"
    BOTH = "both", "Either way"
