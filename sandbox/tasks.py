"""Background work: webhook deliveries (thin wrappers around `sandbox.webhooks`)."""

from __future__ import annotations

from celery import shared_task

from sandbox.webhooks import webhook_delivery_send


@shared_task(acks_late=True, soft_time_limit=60, time_limit=90)
def webhook_delivery_send_task(delivery_id: str) -> None:
    """Attempt a delivery; schedule the next attempt when it failed and tries remain."""
    delay = webhook_delivery_send(delivery_id=delivery_id)
    if delay is not None:
        webhook_delivery_send_task.apply_async(args=(delivery_id,), countdown=delay)


@shared_task(ignore_result=True)
def posts_due_publish_task() -> None:
    """Every minute (beat, sandbox only): publish scheduled posts whose time has come."""
    from sandbox.posts import posts_due_publish

    posts_due_publish()
