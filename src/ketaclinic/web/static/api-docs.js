// Starts Swagger UI on /docs. A static file rather than an inline script, so the
// Content-Security-Policy can refuse every inline script.
(function () {
  var root = document.getElementById("swagger-ui");
  if (!root || typeof SwaggerUIBundle === "undefined") return;
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-openapi-url"),
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    // The default validator badge loads an image from the validator's public server.
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis]
  });
})();
