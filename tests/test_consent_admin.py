"""Issue 23 item 2 (admin): the suppression list's admin: add (normalised), search in any
format, delete (unsuppress), CSV import (POST, add permission, all or nothing) and export
(view permission)."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

import django_smsrest
from django_smsrest.models import Suppression

pytestmark = pytest.mark.django_db

A, B = "+393471234567", "+393471234568"
LIST = "admin:django_smsrest_suppression_changelist"
IMPORT = "admin:django_smsrest_suppression_import"
EXPORT = "admin:django_smsrest_suppression_export"


@pytest.fixture
def root() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    return client


def staff(*codenames: str) -> Client:
    user = User.objects.create_user("staff", "s@example.com", "pw", is_staff=True)
    for codename in codenames:
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label="django_smsrest", codename=codename)
        )
    client = Client()
    client.force_login(user)
    return client


def test_add_normalises_through_the_service(root: Client) -> None:
    url = reverse("admin:django_smsrest_suppression_add")
    response = root.post(url, {"phone_number": "347 123 4567", "reason": "phone call"})
    assert response.status_code == 302
    row = Suppression.objects.get()
    assert (row.phone_number, row.reason, row.origin) == (A, "phone call", "LOCAL")
    response = root.post(url, {"phone_number": "not a number", "reason": ""})
    assert response.status_code == 200 and "not a phone number" in response.content.decode()


def test_search_by_number_in_any_format(root: Client) -> None:
    django_smsrest.suppress(A, reason="first")
    django_smsrest.suppress(B, reason="second")
    html = root.get(reverse(LIST), {"q": "0039 347 123 4567"}).content.decode()
    assert A in html and B not in html
    html = root.get(reverse(LIST), {"q": "second"}).content.decode()
    assert B in html and A not in html


def test_delete_action_unsuppresses(root: Client) -> None:
    row = django_smsrest.suppress(A)
    data = {"action": "delete_selected", "_selected_action": [row.pk], "post": "yes"}
    root.post(reverse(LIST), data)
    assert not Suppression.objects.exists()


def test_import_all_or_nothing_then_export(root: Client) -> None:
    bad = "phone_number,reason\n+393471234567,ok\nnonsense,x\n"
    response = root.post(
        reverse(IMPORT), {"file": SimpleUploadedFile("l.csv", bad.encode(), "text/csv")}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Line 3" in html and "nothing was imported" in html
    assert not Suppression.objects.exists()

    good = "phone_number,reason\n+393471234567,asked\n347 123 4568,=cmd()\n"
    response = root.post(
        reverse(IMPORT), {"file": SimpleUploadedFile("l.csv", good.encode(), "text/csv")}
    )
    assert response.status_code == 302
    assert set(Suppression.objects.values_list("phone_number", flat=True)) == {A, B}

    response = root.get(reverse(EXPORT))
    assert response["Content-Type"] == "text/csv"
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["phone_number", "reason", "origin", "created_at"]
    by_number = {r[0]: r for r in rows[1:]}
    assert by_number[A][1] == "asked" and by_number[A][2] == "LOCAL"
    assert by_number[B][1] == "'=cmd()"  # never a formula in a spreadsheet


def test_import_needs_the_add_permission_and_a_post(root: Client) -> None:
    viewer = staff("view_suppression")
    upload = SimpleUploadedFile("l.csv", b"+393471234567\n", "text/csv")
    assert viewer.post(reverse(IMPORT), {"file": upload}).status_code == 403
    assert viewer.get(reverse(EXPORT)).status_code == 200
    assert "Import CSV" not in viewer.get(reverse(LIST)).content.decode()
    assert not Suppression.objects.exists()
    # A GET never imports: it shows the form.
    assert root.get(reverse(IMPORT)).status_code == 200
    assert not Suppression.objects.exists()


def test_export_needs_the_view_permission() -> None:
    nobody = staff()
    assert nobody.get(reverse(EXPORT)).status_code == 403
