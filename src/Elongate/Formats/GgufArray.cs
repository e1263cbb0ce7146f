namespace Elongate.Formats;

/// <summary>
/// A GGUF array value: one element type and a typed .NET array of items (byte[], float[], string[], … or
/// <see cref="GgufArray"/>[] for arrays of arrays). Keeping the typed array (rather than object[]) keeps a 32,000-entry
/// score table a plain float[] and lets the writer round-trip the element type exactly.
/// </summary>
public sealed class GgufArray
{
    /// <summary>Type of every element.</summary>
    public GgufValueType ElementType { get; }

    /// <summary>The elements; its runtime type is the .NET array type that matches <see cref="ElementType"/>.</summary>
    public Array Items { get; }

    /// <summary>Number of elements.</summary>
    public int Count => Items.Length;

    /// <summary>Wraps <paramref name="items"/>, checking that its array type matches <paramref name="elementType"/>.</summary>
    public GgufArray(GgufValueType elementType, Array items)
    {
        ArgumentNullException.ThrowIfNull(items);
        var expected = ClrArrayType(elementType);
        if (items.GetType() != expected)
            throw new ArgumentException($"a GGUF {elementType} array needs a {expected.Name}, got {items.GetType().Name}", nameof(items));
        ElementType = elementType;
        Items = items;
    }

    /// <summary>Builds an array from a typed .NET array, inferring the element type (float[] → Float32, string[] → String, …).</summary>
    public static GgufArray From(Array items) => new(ElementTypeOf(items), items);

    /// <summary>The items as <typeparamref name="T"/>[]; throws <see cref="InvalidCastException"/> if the element type differs.</summary>
    public T[] As<T>() => (T[])Items;

    /// <summary>The .NET array type holding elements of <paramref name="t"/>.</summary>
    public static Type ClrArrayType(GgufValueType t) => t switch
    {
        GgufValueType.UInt8 => typeof(byte[]),
        GgufValueType.Int8 => typeof(sbyte[]),
        GgufValueType.UInt16 => typeof(ushort[]),
        GgufValueType.Int16 => typeof(short[]),
        GgufValueType.UInt32 => typeof(uint[]),
        GgufValueType.Int32 => typeof(int[]),
        GgufValueType.Float32 => typeof(float[]),
        GgufValueType.Bool => typeof(bool[]),
        GgufValueType.String => typeof(string[]),
        GgufValueType.Array => typeof(GgufArray[]),
        GgufValueType.UInt64 => typeof(ulong[]),
        GgufValueType.Int64 => typeof(long[]),
        GgufValueType.Float64 => typeof(double[]),
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, "not a GGUF value type"),
    };

    /// <summary>The GGUF element type of a typed .NET array.</summary>
    public static GgufValueType ElementTypeOf(Array items)
    {
        // Compare exact runtime types: the CLR lets an sbyte[] pass as byte[] (and int[] as uint[]) in type tests.
        var t = items.GetType();
        foreach (var vt in Enum.GetValues<GgufValueType>())
            if (ClrArrayType(vt) == t) return vt;
        throw new ArgumentException($"no GGUF element type for {t.Name}", nameof(items));
    }

    /// <summary>The GGUF type of a scalar or array value (byte → UInt8, …, string → String, GgufArray → Array).</summary>
    public static GgufValueType ValueTypeOf(object value) => value switch
    {
        byte => GgufValueType.UInt8,
        sbyte => GgufValueType.Int8,
        ushort => GgufValueType.UInt16,
        short => GgufValueType.Int16,
        uint => GgufValueType.UInt32,
        int => GgufValueType.Int32,
        float => GgufValueType.Float32,
        bool => GgufValueType.Bool,
        string => GgufValueType.String,
        GgufArray => GgufValueType.Array,
        ulong => GgufValueType.UInt64,
        long => GgufValueType.Int64,
        double => GgufValueType.Float64,
        _ => throw new ArgumentException($"no GGUF value type for {value.GetType().Name}", nameof(value)),
    };

    /// <inheritdoc/>
    public override string ToString() => $"[{ElementType} × {Count}]";
}
