"""The pure rules of mail: stable Message-IDs, backoff, template names."""

from __future__ import annotations

from ngc_pilot.mail.message import domain_of, message_id_for
from ngc_pilot.mail.rendering import template_for
from ngc_pilot.mail.sending import backoff
from ngc_pilot.settings import MailSettings


def test_the_message_id_depends_on_the_key_alone():
    one = message_id_for("expiry-14d:P-1:2027-03-31", "example.org")
    assert one == message_id_for("expiry-14d:P-1:2027-03-31", "example.org")
    assert one != message_id_for("expiry-7d:P-1:2027-03-31", "example.org")
    assert one.startswith("<") and one.endswith("@example.org>")
    assert domain_of("NGC <ngc@genome.dk>") == "genome.dk"


def test_backoff_doubles_per_attempt_up_to_its_ceiling():
    mail = MailSettings(backoff_seconds=60, backoff_max_seconds=600)
    assert [backoff(mail, n) for n in (1, 2, 3, 4, 5)] == [60, 120, 240, 480, 600]


def test_expiry_kinds_share_one_template():
    assert template_for("expiry-14d") == template_for("expiry-1d") == "expiry"
    assert template_for("tenant_ready") == "tenant_ready"
