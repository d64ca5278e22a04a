"""Every write of privacy: exports and erasure. Transports and tasks call only these."""

from privacy.services.erasure import account_erase
from privacy.services.exports import export_build, export_request, exports_prune

__all__ = ["account_erase", "export_build", "export_request", "exports_prune"]
