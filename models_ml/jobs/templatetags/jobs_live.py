"""Tags of the live job progress component (``templates/jobs/_progress_bar.html``, docs/jobs.md)."""

from django import template
from django.conf import settings
from django.utils.html import format_html_join

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
