"""``{% load jobs_tags %}``: the tags of the shared job components (``templates/jobs/``, docs/jobs.md):
the live progress bar's settings and labels, and the log and cancel controls of any job."""

from django import template
from django.conf import settings
from django.utils.html import format_html_join

from models_ml.jobs.control import job_log_lines, job_type_key
from models_ml.jobs.models import JobStatus

register = template.Library()


@register.simple_tag
def job_poll_s() -> int:
    """Seconds between two reads of a job page's progress fragment: the slow fallback of the pushed frames."""
    return int(settings.KOKORO_JOBS_POLL_S)


@register.simple_tag
def job_status_labels():
    """``data-label-<status>="<translated label>"`` for every status: the page's script names a pushed state."""
    return format_html_join(" ", 'data-label-{}="{}"', ((value, label) for value, label in JobStatus.choices))


@register.filter
def job_key(job) -> str:
    """The job's registered type key (the ``jobs:card`` / ``jobs:cancel`` URL argument, as in live pushes)."""
    return job_type_key(type(job))


@register.simple_tag
def job_log_of(job) -> list:
    return job_log_lines(job=job)
