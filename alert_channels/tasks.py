"""Background work for alert channels. Thin wrappers: take ids, call a service."""

from __future__ import annotations

from celery import shared_task

from alert_channels import services


# The time limits bound a far end that trickles its answer byte by byte; a send stopped
# that way is picked up again by the sweep.
@shared_task(ignore_result=True, soft_time_limit=60, time_limit=90)
def alert_send_deliver(send_id: int) -> None:
    """One attempt at one channel message; queued again with backoff while it may still
    arrive (the attempts are counted on the row, so a task run twice changes nothing)."""
    wait = services.alert_send_attempt(send_id=send_id)
    if wait is not None:
        alert_send_deliver.apply_async(args=(send_id,), countdown=wait)


@shared_task(ignore_result=True)
def alert_sends_sweep() -> int:
    """Sends whose task was lost are queued again; old records go (beat, every 5 min)."""
    return len(services.alert_sends_sweep())
