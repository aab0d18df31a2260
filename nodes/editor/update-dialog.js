// The dialog code the update nodes share (defender-alert-update, defender-incident-update); scripts/build.js
// writes it where a dialog's script has "@editor update-dialog" in a comment. Each node's own script
// declares what differs: its type, Graph's values, its fields and their properties, its labels.
//
// spec: { type, properties (the written-in table, see properties.js), enums ({field: Graph's values}),
//         fields (in the dialog's order), property ({field: node property}), input, output (catalog keys) }
function updateDialog(spec) {
    var NS = "node-red-contrib-defender-detections/" + spec.type + ":" + spec.type + ".";
    var SOURCES = ["str", "msg", "flow", "global", "env"];
    var properties = spec.properties;
    var trimmed = properties.text;
    // Where a field's value comes from, read from the open dialog for the node being edited (see
    // nodes/editor/properties.js); absent (a flow saved without it) means its default, the field itself.
    var sourceOf = properties.sourceOf;

    function t(key, opts) {
        return RED._(NS + key, opts);
    }

    // A Graph value as the editor's language shows it: Microsoft's own word with the value after it in
    // Japanese (真陽性 (truePositive)), the value alone in English. A value Graph does not know stays as it is.
    function shown(translate, field, value) {
        var known = spec.enums[field] && spec.enums[field].indexOf(value) !== -1;
        return known ? translate("option.value", { label: translate("values." + field + "." + value), value: value }) : value;
    }

    // A field as the dialog labels it, with its property after it where the language shows both.
    function fieldShown(field) {
        return t("option.value", { label: t("label." + field), value: field });
    }

    // Graph's value of an enum field in any case, or undefined.
    function member(field, value) {
        var lower = trimmed(value).toLowerCase();
        return (spec.enums[field] || []).filter(function (e) { return e.toLowerCase() === lower; })[0];
    }

    function typeValidator(v) {
        return trimmed(v) === "" || SOURCES.indexOf(trimmed(v)) !== -1 ? true : t("errors.invalid-source", { value: v });
    }

    // Empty (or absent) leaves the entity's value as it is. A value read from elsewhere needs only its name here.
    function fieldValidator(field) {
        return function (v) {
            if (sourceOf(this, spec.property[field]) !== "str") {
                return trimmed(v) !== "" ? true : t("errors.source-name-required");
            }
            var value = trimmed(v);
            if (value === "" || !spec.enums[field] || member(field, value)) {
                return true;
            }
            return t("errors.invalid-value", { field: fieldShown(field), value: value, valid: spec.enums[field].join(", ") });
        };
    }

    // The `defaults` entries of the fields: each property validated as its field, each source as a source.
    function fieldDefaults() {
        var out = {};
        spec.fields.forEach(function (field) {
            out[spec.property[field]] = { validate: fieldValidator(field) };
            out[spec.property[field] + "Type"] = { validate: typeValidator };
        });
        return out;
    }

    return {
        // Node-RED's `defaults`: every declared property with its default, the fields validated as fields,
        // and what `own` adds (the config node, a node's own properties).
        defaults: function (own) {
            return properties.defaults($.extend(fieldDefaults(), own));
        },

        // The node's definition for RED.nodes.registerType; `own` gives its `defaults` (see its script).
        definition: function (own) {
            return {
                category: "security",
                color: "#9FC9F2",
                defaults: own.defaults,
                inputs: 1,
                outputs: 1,
                icon: "defender-update.svg",
                align: "right",
                inputLabels: function () {
                    return this._(spec.type + "." + spec.input);
                },
                outputLabels: function () {
                    return this._(spec.type + "." + spec.output);
                },
                paletteLabel: function () {
                    return this._(spec.type + ".paletteLabel");
                },
                // The name, else the values it sets, as the dialog shows them: "inProgress · truePositive", or in
                // Japanese "進行中 (inProgress) · 真陽性 (truePositive)".
                label: function () {
                    var node = this;
                    var translate = function (key, opts) { return node._(spec.type + "." + key, opts); };
                    var set = Object.keys(spec.enums).filter(function (field) {
                        return sourceOf(node, spec.property[field]) === "str" && trimmed(properties.valueOf(node, spec.property[field])) !== "";
                    }).map(function (field) {
                        var value = trimmed(properties.valueOf(node, spec.property[field]));
                        return shown(translate, field, member(field, value) || value);
                    });
                    return this.name || set.join(" \u00b7 ") || this._(spec.type + ".paletteLabel");
                },
                labelStyle: function () {
                    return this.name ? "node_label_italic" : "";
                },
                oneditprepare: function () {
                    var node = this;
                    // Before the TypedInputs read their fields: a property the flow leaves out shows its default.
                    properties.beginEdit(node, "node-input");
                    spec.fields.forEach(function (field) {
                        var property = spec.property[field];
                        var str = { value: "str", label: t("source.str"), icon: "red/images/typedInput/az.svg" };
                        var input = $("#node-input-" + property);
                        if (spec.enums[field]) {
                            // The field offers Graph's values; the first, empty, keeps the entity's value as it is.
                            str.options = [{ value: "", label: t("option.unchanged") }].concat(spec.enums[field].map(function (v) {
                                return { value: v, label: shown(t, field, v) };
                            }));
                            // A value saved in another case (a flow written by hand) is shown in Graph's; one Graph does
                            // not know stays, as an option of its own, marked by the validator rather than dropped.
                            var saved = trimmed(input.val());
                            if (sourceOf(node, property) === "str" && saved !== "") {
                                var match = member(field, saved);
                                if (match) {
                                    input.val(match);
                                } else {
                                    str.options.push({ value: saved, label: saved });
                                }
                            }
                        }
                        input.typedInput({
                            default: "str",
                            types: [str].concat(SOURCES.slice(1)),
                            typeField: "#node-input-" + property + "Type"
                        });
                    });
                },
                oneditsave: properties.endEdit,
                oneditcancel: properties.endEdit,
                oneditdelete: properties.endEdit
            };
        }
    };
}
