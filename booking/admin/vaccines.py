"""State admins: the vaccine products (list, add, edit, retire and bring back)."""

from __future__ import annotations

from typing import Any

from flask import abort, redirect, render_template, request, url_for

from booking.admin import bp
from booking.clock import now
from booking.db import db
from booking.models import Role, VaccineProduct
from booking.services import products as product_service
from booking.services.errors import InvalidInput, NotFound
from booking.services.inventory import SERVICES
from booking.web.access import audit, staff_route

ID = "int(max=2147483647)"


def _form_values() -> dict[str, Any]:
    return {k: request.form.get(k, "") for k in ("service", *product_service.PRODUCT_FIELDS)}


def _form(
    product: VaccineProduct | None, values: Any, errors: dict[str, str], status: int = 200
) -> Any:
    return render_template(
        "admin/vaccine_form.html",
        product=product,
        values=values,
        errors=errors,
        services=SERVICES,
        describe=product_service.describe,
    ), status


def _detail(product: VaccineProduct) -> dict[str, str]:
    """What the audit log keeps of a product after a change."""
    return {name: str(getattr(product, name)) for name in product_service.PRODUCT_FIELDS}


@bp.get("/vaccines")
@staff_route(Role.STATE_ADMIN)
def vaccines() -> Any:
    """Every vaccine product, active or retired."""
    return render_template(
        "admin/vaccines.html",
        products=product_service.list_products(db.session),
        describe=product_service.describe,
    )


@bp.route("/vaccines/new", methods=["GET", "POST"])
@staff_route(Role.STATE_ADMIN)
def vaccine_new() -> Any:
    """Add a vaccine product."""
    if request.method == "GET":
        return _form(None, {"doses": "1", "min_age_years": "18"}, {})
    values = _form_values()

    def work(s: Any) -> None:
        product = product_service.create_product(s, values, now=now())
        audit(
            "vaccine.create",
            record_type="vaccine_product",
            record_id=product.id,
            detail={"service": product.service, **_detail(product)},
        )

    try:
        db.transaction(work)
    except InvalidInput as exc:
        return _form(None, values, exc.errors, 422)
    return redirect(url_for("admin.vaccines"), code=303)


@bp.route(f"/vaccines/<{ID}:product_id>/edit", methods=["GET", "POST"])
@staff_route(Role.STATE_ADMIN)
def vaccine_edit(product_id: int) -> Any:
    """Edit a vaccine product, or retire and bring it back."""
    product = db.session.get(VaccineProduct, product_id)
    if product is None:
        abort(404)
    if request.method == "GET":
        values = {k: getattr(product, k) for k in product_service.PRODUCT_FIELDS}
        return _form(product, {k: "" if v is None else str(v) for k, v in values.items()}, {})
    action = request.form.get("action", "save")
    if action not in ("save", "deactivate", "activate"):
        action = "save"
    values = _form_values()

    def work(s: Any) -> None:
        if action == "save":
            changed = product_service.update_product(s, product_id, values)
        else:
            changed = product_service.set_active(s, product_id, action == "activate")
        audit(
            f"vaccine.{action}",
            record_type="vaccine_product",
            record_id=product_id,
            detail=_detail(changed) if action == "save" else None,
        )

    try:
        db.transaction(work)
    except InvalidInput as exc:
        return _form(product, values, exc.errors, 422)
    except NotFound:
        abort(404)
    return redirect(url_for("admin.vaccines"), code=303)
