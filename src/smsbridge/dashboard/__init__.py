"""The account page: a server-rendered dashboard for account users and the operator."""

from smsbridge.dashboard.routes import (
    STATIC_PATH,
    DashboardServices,
    build_dashboard_router,
    dashboard_static,
)
from smsbridge.dashboard.service import DashboardService

__all__ = [
    "STATIC_PATH",
    "DashboardService",
    "DashboardServices",
    "build_dashboard_router",
    "dashboard_static",
]
