"""Study reports: one self-contained HTML page per experiment directory."""

from distributed_bo.report.build import Report, write_report

__all__ = ["Report", "write_report"]
