import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("django_smsrest", "0006_polish"),
    ]

    operations = [
        migrations.CreateModel(
            name="HeldDeliveryReport",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "phone_number",
                    models.CharField(editable=False, max_length=32, verbose_name="phone number"),
                ),
                (
                    "state",
                    models.CharField(editable=False, max_length=16, verbose_name="delivery state"),
                ),
                (
                    "delivery_date",
                    models.DateTimeField(editable=False, null=True, verbose_name="delivery date"),
                ),
                (
                    "received_at",
                    models.DateTimeField(auto_now_add=True, verbose_name="received at"),
                ),
                (
                    "message",
                    models.ForeignKey(
                        editable=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="held_reports",
                        to="django_smsrest.smsmessage",
                    ),
                ),
                (
                    "order",
                    models.ForeignKey(
                        editable=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        to="django_smsrest.smsorder",
                    ),
                ),
            ],
            options={
                "verbose_name": "held delivery report",
                "verbose_name_plural": "held delivery reports",
            },
        ),
    ]
