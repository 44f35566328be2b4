// Start-up script for Swagger UI, a file rather than an inline script so the page's
// Content-Security-Policy (script-src 'self') holds.
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
