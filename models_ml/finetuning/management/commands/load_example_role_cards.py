from django.core.management.base import BaseCommand

from models_ml.finetuning.services import role_cards_load_examples


class Command(BaseCommand):
    help = "Load the three invented example role cards of the LLM core into the role-card library (idempotent)."

    def handle(self, *args, **options) -> None:
        count = role_cards_load_examples()
        self.stdout.write(self.style.SUCCESS(f"{count} example role card(s) loaded."))
