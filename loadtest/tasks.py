"""Celery tasks: thin wrappers around the runner."""

from celery import shared_task


@shared_task(ignore_result=True, acks_late=False)
def run_load_test(run_id: int) -> str:
    """Not acknowledged late: a crashed run is not started again behind the user's back."""
    # Here, not at the top: the engine loads aiohttp (~9 MB), which only a running test needs.
    from loadtest.runner import execute_run

    return execute_run(run_id).status
