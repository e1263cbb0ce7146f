namespace Elongate.Formats;

/// <summary>
/// Element types a safetensors header may name. The declaration order is the reference implementation's
/// alignment order: its writer sorts tensors by this order descending (then by name), so the enum value is
/// what <see cref="SafetensorsWriter"/> sorts on to produce the same byte layout.
/// </summary>
public enum SafetensorsDtype
{
    BOOL,
    U8,
    I8,
    F8_E5M2,
    F8_E4M3,
    I16,
    U16,
    F16,
    BF16,
    I32,
    U32,
    F32,
    F64,
    I64,
    U64,
}
