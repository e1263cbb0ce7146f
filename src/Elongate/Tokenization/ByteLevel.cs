namespace Elongate.Tokenization;

/// <summary>
/// GPT-2's reversible byte-to-character mapping, in which byte-level BPE vocabularies are spelled: the printable
/// bytes '!'..'~', '¡'..'¬' and '®'..'ÿ' stand for themselves, and the other 68 bytes (controls, space, DEL, NBSP,
/// soft hyphen) take the characters U+0100 upward in byte order, so a space is 'Ġ' (U+0120) and '\n' is 'Ċ' (U+010A).
/// </summary>
public static class ByteLevel
{
    private static readonly char[] ByteToCharTable = BuildTable();
    private static readonly short[] CharToByteTable = BuildReverse();

    /// <summary>The character that spells <paramref name="b"/>.</summary>
    public static char ByteToChar(byte b) => ByteToCharTable[b];

    /// <summary>The byte <paramref name="c"/> spells, or -1 when it is not one of the 256 mapped characters.</summary>
    public static int CharToByte(char c) => c < CharToByteTable.Length ? CharToByteTable[c] : -1;

    /// <summary>Spells bytes in the mapping (one character per byte).</summary>
    public static string Encode(ReadOnlySpan<byte> bytes) => string.Create(bytes.Length, bytes.ToArray(), static (dst, src) =>
    {
        for (int i = 0; i < src.Length; i++) dst[i] = ByteToCharTable[src[i]];
    });

    /// <summary>
    /// The bytes a piece spells. Characters outside the mapping (added tokens written as plain text) contribute their
    /// own UTF-8, as Hugging Face's ByteLevel decoder and llama.cpp do for them.
    /// </summary>
    public static byte[] Decode(string piece)
    {
        var bytes = new List<byte>(piece.Length);
        Span<byte> utf8 = stackalloc byte[4];
        for (int i = 0; i < piece.Length; i++)
        {
            int b = CharToByte(piece[i]);
            if (b >= 0) { bytes.Add((byte)b); continue; }
            int len = char.IsHighSurrogate(piece[i]) && i + 1 < piece.Length && char.IsLowSurrogate(piece[i + 1]) ? 2 : 1;
            int n = System.Text.Encoding.UTF8.GetBytes(piece.AsSpan(i, len), utf8);
            for (int k = 0; k < n; k++) bytes.Add(utf8[k]);
            i += len - 1;
        }
        return [.. bytes];
    }

    private static char[] BuildTable()
    {
        var table = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
            table[b] = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF ? (char)b : (char)next++;
        return table;
    }

    private static short[] BuildReverse()
    {
        var reverse = new short[324];
        Array.Fill(reverse, (short)-1);
        for (int b = 0; b < 256; b++) reverse[ByteToCharTable[b]] = (short)b;
        return reverse;
    }
}
