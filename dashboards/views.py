"""Pages: the dashboard list, one dashboard, a widget's history. Thin: services do the work."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from dashboards import permissions, services
from dashboards.choices import TimeRange
from dashboards.forms import DashboardForm, ImportForm, RenameForm, WidgetForm
from dashboards.models import GRID_COLUMNS, Dashboard, Widget
from dashboards.ranges import resolve_range
from dashboards.validation import error_text

FORM_ERROR = 422  # HTMX swaps 422 answers (see base.html's htmx-config); full pages get 400


def _visible(request: HttpRequest, pk: int) -> Dashboard:
    return get_object_or_404(permissions.visible_dashboards(request.user), pk=pk)


def _editable(request: HttpRequest, pk: int) -> Dashboard:
    dashboard = _visible(request, pk)
    if not permissions.can_edit(request.user, dashboard):
        raise PermissionDenied("You cannot change this dashboard.")
    return dashboard


def index(request: HttpRequest) -> HttpResponse:
    """The dashboards the user can see, with create and import forms."""
    return _index(request, DashboardForm(), ImportForm())


def _index(request: HttpRequest, form: DashboardForm, import_form: ImportForm, status: int = 200) -> HttpResponse:
    dashboards = permissions.visible_dashboards(request.user).select_related("owner")
    dashboards = dashboards.annotate(widget_count=Count("widgets"))
    rows = [{"dashboard": d, "can_edit": permissions.can_edit(request.user, d)} for d in dashboards]
    context = {"rows": rows, "form": form, "import_form": import_form}
    context["can_create"] = permissions.can_create(request.user)
    return render(request, "dashboards/index.html", context, status=status)


@require_POST
def create(request: HttpRequest) -> HttpResponse:
    if not permissions.can_create(request.user):
        raise PermissionDenied("Your role cannot create dashboards.")
    form = DashboardForm(request.POST)
    if not form.is_valid():
        return _index(request, form, ImportForm(), status=400)
    dashboard = services.create_dashboard(request.user, form.cleaned_data)
    return redirect("dashboards:detail", pk=dashboard.pk)


@require_POST
def import_view(request: HttpRequest) -> HttpResponse:
    if not permissions.can_create(request.user):
        raise PermissionDenied("Your role cannot create dashboards.")
    form = ImportForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            dashboard = services.import_dashboard(
                form.cleaned_data["parsed"], request.user, shared=form.cleaned_data["shared"]
            )
        except ValidationError as exc:
            form.add_error(None, f"This dashboard cannot be imported: {error_text(exc)}")
        else:
            messages.success(request, f"Imported “{dashboard.title}”.")
            return redirect("dashboards:detail", pk=dashboard.pk)
    return _index(request, DashboardForm(), form, status=400)


def detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One dashboard: its grid, range picker, variables and the add-widget form."""
    dashboard = _visible(request, pk)
    return _detail(request, dashboard, WidgetForm())


def _detail(request: HttpRequest, dashboard: Dashboard, form: WidgetForm, status: int = 200) -> HttpResponse:
    widgets = list(dashboard.widgets.all())
    context = {
        "dashboard": dashboard,
        "widgets": widgets,
        "widget_configs": services.widget_payload(widgets),
        "chart_settings": services.chart_settings(),
        "can_edit": permissions.can_edit(request.user, dashboard),
        "form": form,
        "ranges": TimeRange.choices,
        "range": resolve_range(request.GET, dashboard.time_range),
        "variables": [
            {**v, "value": request.GET.get(f"var-{v['name']}", v.get("default", ""))} for v in dashboard.variables
        ],
    }
    if request.htmx and status != 200:
        return render(request, "dashboards/partials/widget_form.html", context, status=status)
    return render(request, "dashboards/detail.html", context, status=status)


@require_POST
def rename(request: HttpRequest, pk: int) -> HttpResponse:
    dashboard = _editable(request, pk)
    form = RenameForm(request.POST)
    if form.is_valid():
        dashboard.rename(form.cleaned_data["title"])
    else:
        messages.error(request, "A title of 1 to 120 characters is required.")
    return redirect(request.POST.get("next") or reverse("dashboards:index"))


@require_POST
def duplicate(request: HttpRequest, pk: int) -> HttpResponse:
    if not permissions.can_create(request.user):
        raise PermissionDenied("Your role cannot create dashboards.")
    copy = services.duplicate_dashboard(_visible(request, pk), request.user)
    messages.success(request, f"Created “{copy.title}”.")
    return redirect("dashboards:detail", pk=copy.pk)


@require_POST
def delete(request: HttpRequest, pk: int) -> HttpResponse:
    dashboard = _editable(request, pk)
    messages.success(request, f"Deleted “{dashboard.title}”.")
    dashboard.delete()
    return redirect("dashboards:index")


@require_POST
def add_widget(request: HttpRequest, pk: int) -> HttpResponse:
    dashboard = _editable(request, pk)
    form = WidgetForm(request.POST)
    if form.is_valid():
        try:
            services.add_widget(dashboard, form.widget_config)
        except ValidationError as exc:
            form.add_error(None, error_text(exc))
        else:
            url = reverse("dashboards:detail", args=[dashboard.pk])
            if request.htmx:
                return HttpResponse(status=204, headers={"HX-Redirect": url})
            return redirect(url)
    return _detail(request, dashboard, form, status=FORM_ERROR if request.htmx else 400)


def edit_widget(request: HttpRequest, pk: int, widget_id: int) -> HttpResponse:
    """Change one widget's metric, filters, aggregation, thresholds or size."""
    dashboard = _editable(request, pk)
    widget = get_object_or_404(Widget, dashboard=dashboard, pk=widget_id)
    form = WidgetForm(request.POST) if request.method == "POST" else WidgetForm.for_widget(widget)
    if request.method == "POST" and form.is_valid():
        config = form.widget_config
        if widget.x + config["w"] > GRID_COLUMNS:  # a wider widget moves left to stay on the grid
            config["x"] = GRID_COLUMNS - config["w"]
        services.update_widget(widget, config)
        return redirect("dashboards:detail", pk=dashboard.pk)
    context = {"dashboard": dashboard, "widget": widget, "form": form}
    return render(request, "dashboards/widget_edit.html", context, status=400 if form.errors else 200)


@require_POST
def delete_widget(request: HttpRequest, pk: int, widget_id: int) -> HttpResponse:
    dashboard = _editable(request, pk)
    get_object_or_404(Widget, dashboard=dashboard, pk=widget_id).delete()
    return redirect("dashboards:detail", pk=dashboard.pk)


def history(request: HttpRequest, pk: int, widget_id: int) -> HttpResponse:
    """A widget full-page, with the range picker and CSV/JSON export of the shown data."""
    dashboard = _visible(request, pk)
    widget = get_object_or_404(Widget, dashboard=dashboard, pk=widget_id)
    span = resolve_range(request.GET, dashboard.time_range)
    context = {
        "dashboard": dashboard,
        "widget": widget,
        "ranges": TimeRange.choices,
        "range": span,
        "export_query": services.export_query(widget, span),
        "widget_configs": services.widget_payload([widget], as_chart=True),
        "chart_settings": services.chart_settings(),
        "variables": [],
    }
    return render(request, "dashboards/history.html", context)
