"""Celery tasks: thin wrappers around the runner."""

from celery import shared_task

from loadtest.runner import execute_run


@shared_task(ignore_result=True, acks_late=False)
def run_load_test(run_id: int) -> str:
    """Not acknowledged late: a crashed run is not started again behind the user's back."""
    return execute_run(run_id).status
