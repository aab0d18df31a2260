// What the dialogs of the pull nodes (defender-detections, defender-incidents) share: their validators,
// which check what the runtime checks (src/nodes/settings.ts, src/defender/query.ts), the context store,
// the incremental switch, the delivering nodes of delivery confirmation and the part of the node's label
// that tells its window and limit. scripts/build.js writes this function into each of those dialogs, where
// the source has the line `/* @editor pull-dialog */`. `t` translates a key of the node's own catalog, and
// `prefix` (the node's type) names the dialog's classes and ids.
function pullDialog(properties, t, prefix) {
    // ISO 8601 duration as the API's `ago` parameter takes it (PT10M, P1D, P1DT2H): at least one component,
    // and a T only when a time component follows it.
    var DURATION = /^P(?!$)(?:\d+(?:[.,]\d+)?Y)?(?:\d+(?:[.,]\d+)?M)?(?:\d+(?:[.,]\d+)?W)?(?:\d+(?:[.,]\d+)?D)?(?:T(?=\d)(?:\d+(?:[.,]\d+)?H)?(?:\d+(?:[.,]\d+)?M)?(?:\d+(?:[.,]\d+)?S)?)?$/;
    // ISO 8601 date-time, a zone only after a time; without a zone the API (and the node) read it as UTC. The
    // runtime reads the same pattern (ISO_DATE_TIME in src/defender/query.ts; test/editor.test.ts compares them).
    var DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?([Zz]|([+-])(\d{2})(?::?(\d{2}))?)?)?$/;
    // Where a TypedInput's value may come from instead of the field itself; the runtime reads context again
    // for every message.
    var CONTEXT_SOURCES = ["env", "flow", "global"];

    // A property as the open dialog's field holds it now, or as the node holds it (any other node, checked
    // meanwhile when, say, a shared config node is saved from this dialog); see nodes/editor/properties.js.
    var current = properties.current;
    var trimmed = properties.text;
    var sourceOf = properties.sourceOf;

    // In any case, as the runtime reads them (pt2h is PT2H).
    function isDuration(value) {
        return DURATION.test(value.toUpperCase()) && /[1-9]/.test(value);
    }

    function isZeroDuration(value) {
        return DURATION.test(value.toUpperCase()) && !/[1-9]/.test(value);
    }

    // Epoch milliseconds of an ISO 8601 date-time (UTC when no zone is given), or NaN.
    function epochOf(value) {
        var m = DATE_TIME.exec(value);
        if (!m) {
            return NaN;
        }
        var year = +m[1], month = +m[2], day = +m[3];
        var hour = +(m[4] || 0), minute = +(m[5] || 0), second = +(m[6] || 0);
        var ms = m[7] ? Math.floor(+("0." + m[7]) * 1000) : 0;
        if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) {
            return NaN;
        }
        var epoch = Date.UTC(year, month - 1, day, hour, minute, second, ms);
        if (new Date(epoch).getUTCDate() !== day) {
            return NaN;
        }
        if (m[9]) {
            var offset = (+m[10] * 60 + +(m[11] || 0)) * 60000;
            epoch -= m[9] === "+" ? offset : -offset;
        }
        return epoch;
    }

    function isDateTime(value) {
        return !isNaN(epochOf(value));
    }

    // Node-level time defaults are ignored in incremental mode, so they are only checked against each
    // other when they will be used.
    function usesTimeDefaults(node) {
        return !current(node, "incremental");
    }

    // The field holds a variable or context key rather than the value: it only has to be there.
    function sourcedValidator(property, validateValue) {
        return function (v, opt) {
            if (CONTEXT_SOURCES.indexOf(sourceOf(this, property)) !== -1) {
                return trimmed(v) !== "" ? true : t("errors.source-name-required");
            }
            return validateValue.call(this, v, opt);
        };
    }

    function dateTimeValidator(v, opt) {
        var value = trimmed(v);
        if (value === "") {
            return true;
        }
        if (!isDateTime(value)) {
            return t("errors.invalid-datetime", { value: value });
        }
        if (usesTimeDefaults(this) && trimmed(current(this, "ago")) !== "") {
            return t("errors.ago-with-range");
        }
        if (usesTimeDefaults(this)) {
            var since = epochOf(trimmed(current(this, "sinceTimeUtc")));
            var until = epochOf(trimmed(current(this, "untilTimeUtc")));
            if (!isNaN(since) && !isNaN(until) && since > until) {
                return t("errors.since-after-until");
            }
        }
        return true;
    }

    // An empty field means the default, which its placeholder shows, as it does in the runtime.
    function durationValidator(options) {
        return function (v, opt) {
            var value = trimmed(v);
            if (value === "") {
                return true;
            }
            if (isDuration(value) || (options.allowZero && isZeroDuration(value))) {
                return true;
            }
            return t("errors.invalid-duration", { value: value });
        };
    }

    function numberValidator(options) {
        return function (v, opt) {
            var value = trimmed(v);
            if (value === "") {
                return true;
            }
            if (!/^\d+(?:\.\d+)?$/.test(value)) {
                return t(options.integer ? "errors.invalid-integer" : "errors.invalid-number", { value: value });
            }
            var n = Number(value);
            if (options.integer && !/^\d+$/.test(value)) {
                return t("errors.invalid-integer", { value: value });
            }
            if (options.positive && n <= 0) {
                return t("errors.invalid-number", { value: value });
            }
            if (n < options.min || n > options.max) {
                return t("errors.out-of-range", { value: value, min: options.min, max: options.max });
            }
            return true;
        };
    }

    // One of a select's values; empty means the default, as in the runtime.
    function choiceValidator(values, error) {
        return function (v, opt) {
            return [""].concat(values).indexOf(trimmed(v)) !== -1 ? true : t(error, { value: v });
        };
    }

    // The delivering nodes, chosen as the Complete node's scope is: ticked in a list of this flow's nodes,
    // or picked on the canvas.
    function prepareDeliveringNodes(node) {
        var chosen = properties.valueOf(node, "confirmNodes");
        chosen = typeof chosen === "string" ? chosen.split(",").map(trimmed) : chosen;
        var list = $("#" + prefix + "-confirm-nodes").treeList({ multi: true });
        var items = {};
        var data = [];
        RED.nodes.filterNodes({ z: node.z }).forEach(function (n) {
            if (n.id === node.id) {
                return;
            }
            var def = RED.nodes.getType(n.type);
            var label = def && def.label ? (typeof def.label === "function" ? def.label.call(n) : def.label) : "";
            items[n.id] = { node: n, label: label || n.type, sublabel: n.type, checkbox: true, selected: chosen.indexOf(n.id) !== -1 };
            data.push(items[n.id]);
        });
        list.treeList("data", data);
        $("#" + prefix + "-confirm-select").on("click", function (e) {
            e.preventDefault();
            var before = list.treeList("selected").map(function (item) { return item.node.id; });
            RED.tray.hide();
            RED.view.selectNodes({
                selected: before,
                filter: function (n) { return n.id !== node.id && n.z === node.z; },
                onselect: function (selection) {
                    RED.tray.show();
                    var picked = selection.map(function (n) { return n.id; });
                    Object.keys(items).forEach(function (id) {
                        if (items[id].treeList) {
                            items[id].treeList.select(picked.indexOf(id) !== -1);
                        }
                    });
                },
                oncancel: function () {
                    RED.tray.show();
                }
            });
        });
        function showRows() {
            $("." + prefix + "-confirm-row").toggle($("#node-input-confirm").val() === "nodes" && $("#node-input-incremental").prop("checked"));
            RED.tray.resize();
        }
        $("#node-input-confirm").on("change", showRows);
        $("#node-input-incremental").on("change", showRows);
        showRows();
    }

    // Context stores come from the runtime's settings; a name saved by another installation is kept (and
    // marked) rather than silently replaced.
    function prepareStore(node) {
        var storeSelect = $("#node-input-store");
        var contextSettings = RED.settings.context || {};
        var stores = Array.isArray(contextSettings.stores) ? contextSettings.stores : [];
        var defaultStore = contextSettings.default;
        $("<option></option>").val("").text(defaultStore
            ? t("store.defaultNamed", { store: defaultStore })
            : t("store.default")).appendTo(storeSelect);
        stores.forEach(function (store) {
            $("<option></option>").val(store).text(store).appendTo(storeSelect);
        });
        if (node.store && stores.indexOf(node.store) === -1) {
            $("<option></option>").val(node.store).text(t("store.unknown", { store: node.store })).appendTo(storeSelect);
        }
        storeSelect.val(node.store || "");
    }

    return {
        trimmed: trimmed,
        CONTEXT_SOURCES: CONTEXT_SOURCES,
        sourcedValidator: sourcedValidator,

        // Node-RED's `defaults` of a pull node: every property with its declared default, the validators of
        // what both nodes have, and the node's own `specs` (its other fields).
        defaults: function (specs) {
            return properties.defaults($.extend({
                defender: { type: "defender-config", required: true },
                sinceTimeUtc: { validate: dateTimeValidator },
                untilTimeUtc: { validate: dateTimeValidator },
                ago: {
                    validate: function (v, opt) {
                        var value = trimmed(v);
                        if (value === "") {
                            return true;
                        }
                        if (!isDuration(value)) {
                            return t("errors.invalid-duration", { value: value });
                        }
                        if (usesTimeDefaults(this) &&
                            (trimmed(current(this, "sinceTimeUtc")) !== "" || trimmed(current(this, "untilTimeUtc")) !== "")) {
                            return t("errors.ago-with-range");
                        }
                        return true;
                    }
                },
                limit: {
                    validate: sourcedValidator("limit", function (v, opt) {
                        var value = trimmed(v);
                        if (value === "" || (/^\d+$/.test(value) && Number(value) >= 1 && Number(value) <= Number.MAX_SAFE_INTEGER)) {
                            return true;
                        }
                        return t("errors.invalid-limit", { value: value });
                    })
                },
                initialAgo: { validate: durationValidator({}) },
                overlap: { validate: durationValidator({ allowZero: true }) },
                requestTimeout: { validate: numberValidator({ positive: true, min: 0, max: 3600 }) },
                maxRetries: { validate: numberValidator({ integer: true, min: 0, max: 10 }) },
                maxResponseMB: { validate: numberValidator({ positive: true, min: 0, max: 4096 }) },
                events: { validate: choiceValidator(["all", "new", "triage"], "errors.invalid-events") },
                remember: { validate: durationValidator({}) },
                // Delivery confirmation. The delivering nodes are node ids: "*[]" makes the editor map them to the
                // new ids when a flow is imported or copied, as it does for the Complete node's scope.
                confirm: { validate: choiceValidator(["none", "nodes"], "errors.invalid-confirm") },
                confirmNodes: {
                    type: "*[]",
                    validate: function (v, opt) {
                        var list = typeof v === "string" ? v.split(",") : v;
                        if (!Array.isArray(list) || list.some(function (id) { return typeof id !== "string"; })) {
                            return t("errors.invalid-confirm-nodes");
                        }
                        if (trimmed(current(this, "confirm")) !== "nodes") {
                            return true;
                        }
                        return list.some(function (id) { return trimmed(id) !== ""; }) ? true : t("errors.confirm-no-nodes");
                    }
                },
                deliveryTimeout: { validate: durationValidator({}) },
                maxDeliveries: { validate: numberValidator({ integer: true, min: 1, max: 100 }) }
            }, specs));
        },

        // What the node asks for in the API's own words (not translated): the window of an explicit node and
        // the limit, as the start of the node's label. A value taken from elsewhere shows where from:
        // "limit flow.maxAlerts".
        summary: function (node) {
            function value(property) {
                return trimmed(properties.valueOf(node, property));
            }
            var parts = [];
            if (value("incremental") === "false") {
                if (value("ago") !== "") {
                    parts.push("ago " + value("ago"));
                }
                if (value("sinceTimeUtc") !== "") {
                    parts.push("since " + value("sinceTimeUtc"));
                }
                if (value("untilTimeUtc") !== "") {
                    parts.push("until " + value("untilTimeUtc"));
                }
            }
            if (value("limit") !== "") {
                parts.push("limit " + (this.sourced(node, "limit") || value("limit")));
            }
            return parts;
        },

        // "flow.key" when a TypedInput's value comes from context or the environment, else null.
        sourced: function (node, property) {
            var source = trimmed(properties.valueOf(node, property + "Type")) || properties.table[property + "Type"];
            return CONTEXT_SOURCES.indexOf(source) !== -1 ? source + "." + trimmed(properties.valueOf(node, property)) : null;
        },

        // oneditprepare: the defaults shown, the stores, the TypedInputs of `sourced`, the incremental switch
        // and the delivering nodes.
        prepare: function (node, sourced) {
            // Before the TypedInputs read their fields: a property the flow leaves out shows its default.
            properties.beginEdit(node, "node-input");
            prepareStore(node);
            function updateIncremental() {
                var incremental = $("#node-input-incremental").prop("checked");
                $("." + prefix + "-time-row input").prop("disabled", incremental);
                $("." + prefix + "-time-note").toggle(incremental);
                $("." + prefix + "-incremental-row").toggle(incremental);
                RED.tray.resize();
            }
            sourced.forEach(function (property) {
                var own = properties.table[property + "Type"];
                $("#node-input-" + property).typedInput({
                    default: own,
                    types: [own].concat(CONTEXT_SOURCES),
                    typeField: "#node-input-" + property + "Type"
                });
            });
            $("#node-input-incremental").on("change", updateIncremental);
            updateIncremental();
            prepareDeliveringNodes(node);
        },

        // oneditsave: the list is no input field, so Done stores what is ticked.
        save: function (node) {
            node.confirmNodes = $("#" + prefix + "-confirm-nodes").treeList("selected").map(function (item) {
                return item.node.id;
            });
            properties.endEdit();
        }
    };
}
