"""Ten named levels and the curve that sets their XP thresholds."""

from django.db import models


class LevelCurve(models.TextChoices):
    FLAT = "flat", "Flat (the same XP for every level)"
    LINEAR = "linear", "Linear (each level needs base more than the last)"
    SNOWBALL = "snowball", "Snowball (geometric: base x factor^n, Level Up XP)"
    MANUAL = "manual", "Thresholds set by hand"


class LevelScheme(models.Model):
    """The one level curve in force (a single row); changing it recomputes the thresholds."""

    curve = models.CharField(max_length=16, choices=LevelCurve.choices, default=LevelCurve.SNOWBALL)
    base = models.PositiveIntegerField(default=120)
    factor = models.DecimalField(max_digits=5, decimal_places=3, default=1.3)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.get_curve_display()} (base {self.base}, factor {self.factor})"


class Level(models.Model):
    """A named level reached at ``threshold_xp`` total XP."""

    scheme = models.ForeignKey(
        LevelScheme,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="levels",
        help_text="The scheme whose curve sets this level's threshold.",
    )
    number = models.PositiveSmallIntegerField(unique=True)
    name = models.CharField(max_length=64)
    threshold_xp = models.PositiveIntegerField()

    class Meta:
        ordering = ["number"]

    def __str__(self) -> str:
        return f"{self.number}. {self.name} ({self.threshold_xp} XP)"
