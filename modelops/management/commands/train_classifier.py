"""Train a part classifier on labelled vectors (meta part_type) and register it as a joblib candidate."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from cadml_site.errors import DomainError
from modelops.security.reference_models import ESTIMATOR_TYPES
from features.extractors import FEATURE_VERSIONS
from modelops.services import model_train_classifier
from vectors.selectors import served_feature_version


class Command(BaseCommand):
    help = "Train a classifier on the labelled vectors of a feature version; prints cross-validated accuracy."

    def add_arguments(self, parser):
        parser.add_argument("--feature-version", default=None, choices=FEATURE_VERSIONS,
                            help="Feature version of the training vectors (default: the served version).")
        parser.add_argument("--estimator", default="random_forest", choices=ESTIMATOR_TYPES)
        parser.add_argument("--label", default=None, help="Version label (default: estimator-version-timestamp).")
        parser.add_argument("--cv", type=int, default=5, help="Cross-validation folds (capped by the rarest class).")
        parser.add_argument("--activate", action="store_true", help="Reload the new version as the active model.")
        parser.add_argument("--actor", default="manage.py train_classifier")

    def handle(self, *args, **options):
        if options["cv"] < 2:
            raise CommandError("--cv must be at least 2")
        try:
            result = model_train_classifier(
                feature_version=options["feature_version"] or served_feature_version(), estimator=options["estimator"], label=options["label"],
                cv_folds=options["cv"], activate=options["activate"], actor=options["actor"],
                progress=lambda message: self.stdout.write(message))
        except DomainError as exc:
            raise CommandError(f"{exc.message} ({exc.code}): {exc.context}") from None
        scores = result.cv_scores
        mean = sum(scores) / len(scores)
        self.stdout.write(f"samples: {result.n_samples}  classes: {result.class_counts}")
        self.stdout.write(f"cross-validated accuracy: {mean:.3f} (folds: {', '.join(f'{s:.3f}' for s in scores)})")
        version = result.version
        self.stdout.write(self.style.SUCCESS(
            f"registered {version.label} ({version.sha256[:12]}, {version.container}"
            f"{'/' + version.compression if version.compression else ''}) status {version.status}"))
