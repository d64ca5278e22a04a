"""Bookings keep their money in a payments.Payment row instead of three columns."""

import django.db.models.deletion
from django.db import migrations, models

# The old `payment_status` values and what they are now.
STATUS = {
    "none": "requires_payment",
    "requires_action": "requires_payment",
    "authorized": "authorized",
    "captured": "captured",
    "released": "released",
    "refunded": "refunded",
    "failed": "failed",
}


def payments_from_columns(apps, schema_editor):
    Booking = apps.get_model("bookings", "Booking")
    Payment = apps.get_model("payments", "Payment")
    for booking in Booking.objects.select_related("instructor").iterator():
        status = STATUS.get(booking.payment_status, "requires_payment")
        payment = Payment.objects.create(
            reference=f"booking-{booking.pk}",
            payer_id=booking.student_id,
            payee_id=booking.instructor_id,
            amount_cents=booking.price_cents,
            currency=booking.currency,
            status=status,
            provider="stripe" if booking.payment_reference.startswith("pi_") else "dev",
            intent_id=booking.payment_reference,
            client_secret=booking.payment_client_secret,
            captured_cents=booking.price_cents if status in ("captured", "refunded") else 0,
            refunded_cents=booking.price_cents if status == "refunded" else 0,
        )
        Booking.objects.filter(pk=booking.pk).update(payment=payment)


class Migration(migrations.Migration):
    dependencies = [
        ("bookings", "0003_booking_no_overlap"),
        ("payments", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="booking",
            name="payment",
            field=models.OneToOneField(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="payments.payment",
            ),
        ),
        migrations.RunPython(payments_from_columns, migrations.RunPython.noop),
        migrations.RemoveField(model_name="booking", name="payment_client_secret"),
        migrations.RemoveField(model_name="booking", name="payment_reference"),
        migrations.RemoveField(model_name="booking", name="payment_status"),
    ]
