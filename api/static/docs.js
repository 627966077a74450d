// Swagger UI on this server's OpenAPI document. A static file: the CSP forbids inline scripts.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.specUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "BaseLayout",
    // The default validator is a remote service: never call it.
    validatorUrl: null,
    // A token typed into "Authorize" is not kept in the browser's storage.
    persistAuthorization: false,
    displayRequestDuration: true
  });
})();
