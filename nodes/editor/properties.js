// The editor's side of src/nodes/properties.ts. scripts/build.js writes this function into each node's
// dialog, called with that node's table of defaults (the same table the runtime reads), where the source
// has the line `/* @node-properties <type> */`. A flow written without a property (by hand, by a pipeline,
// or saved by an older version) then reads as that property's default everywhere in the editor: in
// validation, in the dialog's fields (so Done stores it) and in the node's label, as it does in the runtime.
function nodeProperties(table) {
    // A property the flow does not hold means its default. A flag written as text ("false", as some flows
    // written by hand have it) means what the runtime reads it as.
    function valueOf(node, name) {
        var value = node[name];
        if (value === undefined || value === null) {
            return table[name];
        }
        if (typeof table[name] === "boolean" && typeof value === "string") {
            return value === "true";
        }
        return value;
    }

    // A value as the text it is compared as: trimmed, and "" for nothing.
    function text(v) {
        return (v === undefined || v === null) ? "" : String(v).trim();
    }

    // The node whose dialog is open, and the prefix of its fields' ids: while it is open, validators and
    // labels read what its fields hold now rather than what the node held when the dialog opened.
    var editing = null;

    function current(node, name) {
        if (node && editing && node.id === editing.id) {
            var input = $("#" + editing.prefix + "-" + name);
            if (input.length) {
                return input.attr("type") === "checkbox" ? input.prop("checked") : input.val();
            }
        }
        return valueOf(node, name);
    }

    return {
        table: table,
        valueOf: valueOf,
        current: current,
        text: text,

        // Where a TypedInput field's value comes from (its `<name>Type`): absent or empty means the default,
        // the field itself.
        sourceOf: function (node, name) {
            return text(current(node, name + "Type")) || table[name + "Type"];
        },

        // oneditprepare: shows the defaults (see showDefaults) and reads this node's fields from now on.
        beginEdit: function (node, prefix) {
            editing = { id: node.id, prefix: prefix };
            this.showDefaults(node, prefix);
        },

        // oneditsave, oneditcancel and oneditdelete.
        endEdit: function () {
            editing = null;
        },

        // Node-RED's `defaults`: every property of the table with its default as `value`, plus what `specs`
        // add (type, required, validate). A validator is handed the default for a missing property; Node-RED
        // tells a validator that returns a message from an older one by its two parameters, so keep them.
        defaults: function (specs) {
            var out = {};
            Object.keys(specs).forEach(function (name) {
                if (!(name in table)) {
                    throw new Error("no declared default for the editor property " + name + " (src/nodes/properties.ts)");
                }
            });
            Object.keys(table).forEach(function (name) {
                var spec = $.extend({ value: table[name] }, specs[name] || {});
                if (typeof spec.validate === "function") {
                    var validate = spec.validate;
                    spec.validate = function (v, opt) {
                        return validate.call(this, v === undefined || v === null ? table[name] : v, opt);
                    };
                }
                out[name] = spec;
            });
            return out;
        },

        // In oneditprepare, before TypedInputs are made from the fields: each field whose property the node
        // lacks shows the default, so what the dialog shows is what the runtime uses, and Done stores it.
        showDefaults: function (node, prefix) {
            Object.keys(table).forEach(function (name) {
                var input = $("#" + prefix + "-" + name);
                // A checkbox shows what the runtime reads, a missing or textual flag included.
                if (input.attr("type") === "checkbox") {
                    input.prop("checked", valueOf(node, name) === true);
                    return;
                }
                // An empty default is what Node-RED shows for a missing property anyway (and all that a
                // config node reference such as `defender` can default to).
                if (table[name] === "" || (node[name] !== undefined && node[name] !== null)) {
                    return;
                }
                input.val(String(table[name]));
            });
        }
    };
}
