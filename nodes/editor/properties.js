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

    return {
        table: table,
        valueOf: valueOf,

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
