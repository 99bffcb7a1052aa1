from django.core.management.base import BaseCommand, CommandError

from models_ml.finetuning.services import PartnersError, retrieval_index_build


class Command(BaseCommand):
    help = (
        "Build the CPU retrieval partner from the database's High-scored (70-98) sessions and register it as an "
        "active model version (the default practice partner when nothing else is configured)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--role", choices=["counselor", "client", "both"], default="both")
        parser.add_argument("--inactive", action="store_true", help="register the index without activating it")
        parser.add_argument(
            "--language",
            default="ja",
            help="ja (default) or a translation's language (en): index the imported translations of the sessions",
        )

    def handle(self, *args, **options) -> None:
        roles = ["counselor", "client"] if options["role"] == "both" else [options["role"]]
        for role in roles:
            try:
                version = retrieval_index_build(
                    role=role, activate=not options["inactive"], language=options["language"]
                )
            except PartnersError as exc:
                raise CommandError(exc.message) from None
            self.stdout.write(
                self.style.SUCCESS(f"#{version.pk} {version.name}: {version.metrics} -> {version.config['index_path']}")
            )
