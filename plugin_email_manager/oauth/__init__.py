"""OAuth 2.0 for Google and Microsoft mailboxes: provider settings, linking, token refresh.

- ``providers``: ``ProviderConfig``, ``load_provider(host, name)`` (plugin.toml, environment,
  mailSettings record) and the token-endpoint call;
- ``flow``: ``start_link`` / ``complete_link``, the authorization code flow with PKCE;
- ``tokens``: ``TokenProvider``, an account's access token, refreshed before it expires.
"""

from plugin_email_manager.oauth.flow import LinkResult, complete_link, start_link
from plugin_email_manager.oauth.providers import ProviderConfig, load_provider
from plugin_email_manager.oauth.tokens import TokenProvider

__all__ = ["LinkResult", "ProviderConfig", "TokenProvider", "complete_link", "load_provider", "start_link"]
