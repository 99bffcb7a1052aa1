"""``{% load jobs_tags %}``: the controls of any job inside a page's own progress fragment."""

from django import template

from models_ml.jobs.control import job_log_lines, job_type_key

register = template.Library()


@register.filter
def job_key(job) -> str:
    """``app_label.modelname`` of a job (the ``jobs:card`` / ``jobs:cancel`` URL argument)."""
    return job_type_key(type(job))


@register.simple_tag
def job_log_of(job) -> list:
    return job_log_lines(job=job)
