from django.core.management.base import BaseCommand

from roleplay.services.sessions import sessions_end_overdue


class Command(BaseCommand):
    help = "End live sessions whose time is up (also the Celery beat task roleplay.tasks.end_overdue_sessions)."

    def handle(self, *args, **options) -> None:
        ended = sessions_end_overdue()
        self.stdout.write(f"ended {len(ended)} session(s)" + (f": {', '.join(map(str, ended))}" if ended else ""))
