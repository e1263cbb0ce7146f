using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Elongate.Data;

/// <summary>
/// Held-out validation split by whole document, decided by a seeded hash of the document's name, so it does not
/// change when files are added or reordered and no document straddles train and validation.
/// </summary>
public static class DocumentSplit
{
    /// <summary>True when the document named <paramref name="key"/> belongs to the validation set.</summary>
    public static bool IsValidation(string key, double fraction, ulong seed)
    {
        if (!(fraction >= 0 && fraction <= 1)) throw new ArgumentOutOfRangeException(nameof(fraction), "validation fraction must be in [0, 1]");
        ulong h = BinaryPrimitives.ReadUInt64LittleEndian(SHA256.HashData(Encoding.UTF8.GetBytes($"{seed}:{key}")));
        return (h >> 11) * (1.0 / (1UL << 53)) < fraction;
    }
}
