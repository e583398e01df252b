// The test plugin's extension: a demo item's title in capitals (tests/host/test_ui_extensions.py).
export function extendCollectionPage(registry) {
  registry.cell("input", (value, { collection }) => (collection.name === "demoItems" && typeof value === "string"
    ? Object.assign(document.createElement("strong"), { className: "extends-title", textContent: value.toUpperCase() })
    : null));
}
