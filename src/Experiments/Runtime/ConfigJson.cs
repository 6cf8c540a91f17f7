using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace MoeLab.Experiments.Runtime;

/// <summary>The one JSON convention for configs, manifests and checkpoint entries: camelCase
/// keys (<c>model.experts</c> ↔ property <c>Model.Experts</c>), case-insensitive reading, enums
/// by name, non-finite doubles allowed as "NaN"/"Infinity" strings.</summary>
public static class ConfigJson
{
    public static readonly JsonSerializerOptions Options = Create(strict: false);

    /// <summary>As <see cref="Options"/>, but unknown keys are errors (used to bind configs).</summary>
    public static readonly JsonSerializerOptions Strict = Create(strict: true);

    private static JsonSerializerOptions Create(bool strict)
    {
        var o = new JsonSerializerOptions
        {
            PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
            DictionaryKeyPolicy = null,
            PropertyNameCaseInsensitive = true,
            WriteIndented = true,
            NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
            IncludeFields = false,
            // Readable files ('+', '<', non-ASCII kept as is); consumers embedding JSON in HTML must encode it.
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        };
        o.Converters.Add(new JsonStringEnumConverter(namingPolicy: null, allowIntegerValues: false));
        if (strict) o.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
        o.MakeReadOnly(populateMissingResolver: true);
        return o;
    }

    /// <summary>The JSON key of a property name (camelCase).</summary>
    public static string KeyOf(string propertyName) => JsonNamingPolicy.CamelCase.ConvertName(propertyName);
}
