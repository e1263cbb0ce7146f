using System.Buffers.Binary;
using Elongate.Common;

namespace Elongate.Tokenization;

/// <summary>
/// A minimal protobuf wire-format cursor over a byte span. It is hand-rolled rather than Google.Protobuf's
/// CodedInputStream so that every failure becomes a <see cref="ModelFormatException"/> carrying the absolute file
/// offset, and so no generated code is needed for the one message family (sentencepiece_model.proto) we read.
/// </summary>
internal ref struct ProtobufWireReader
{
    public const int WireVarint = 0, WireFixed64 = 1, WireLengthDelimited = 2, WireStartGroup = 3, WireEndGroup = 4, WireFixed32 = 5;

    private readonly ReadOnlySpan<byte> _data;
    private readonly int _base;
    private readonly string _source;
    private int _pos;

    /// <param name="data">The message bytes.</param>
    /// <param name="baseOffset">Absolute file offset of data[0], so errors point into the file.</param>
    /// <param name="source">File name for error messages.</param>
    public ProtobufWireReader(ReadOnlySpan<byte> data, int baseOffset, string source)
    {
        _data = data;
        _base = baseOffset;
        _source = source;
        _pos = 0;
    }

    public readonly bool AtEnd => _pos >= _data.Length;

    /// <summary>Absolute file offset of the next byte.</summary>
    public readonly long Offset => (long)_base + _pos;

    public ModelFormatException Error(string problem, long? offset = null) => new(_source, problem, offset ?? Offset);

    /// <summary>Reads a field tag; returns field number and wire type, rejecting field 0 and group wire types.</summary>
    public (int Field, int Wire) ReadTag()
    {
        long at = Offset;
        ulong tag = ReadVarint();
        int wire = (int)(tag & 7);
        ulong field = tag >> 3;
        if (field == 0 || field > 536_870_911) throw Error($"invalid protobuf field number {field}", at);
        if (wire is WireStartGroup or WireEndGroup) throw Error("protobuf groups are not used by sentencepiece_model.proto", at);
        if (wire > WireFixed32) throw Error($"invalid protobuf wire type {wire}", at);
        return ((int)field, wire);
    }

    public ulong ReadVarint()
    {
        long at = Offset;
        ulong result = 0;
        for (int shift = 0; shift < 70; shift += 7)
        {
            if (_pos >= _data.Length) throw Error("truncated varint", at);
            byte b = _data[_pos++];
            if (shift == 63 && b > 1) throw Error("varint overflows 64 bits", at);
            result |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0) return result;
        }
        throw Error("varint longer than 10 bytes", at);
    }

    public uint ReadFixed32()
    {
        if (_data.Length - _pos < 4) throw Error("truncated fixed32 field");
        uint v = BinaryPrimitives.ReadUInt32LittleEndian(_data[_pos..]);
        _pos += 4;
        return v;
    }

    public float ReadFloat() => BitConverter.Int32BitsToSingle((int)ReadFixed32());

    /// <summary>Reads a length-delimited field's payload; returns it and its absolute offset.</summary>
    public ReadOnlySpan<byte> ReadLengthDelimited(out int offset)
    {
        long at = Offset;
        ulong len = ReadVarint();
        if (len > (ulong)(_data.Length - _pos))
            throw Error($"length-delimited field of {len} bytes runs past the end of its enclosing message ({_data.Length - _pos} bytes left)", at);
        int start = _pos;
        _pos += (int)len;
        offset = _base + start;
        return _data.Slice(start, (int)len);
    }

    public void Skip(int wire)
    {
        switch (wire)
        {
            case WireVarint: ReadVarint(); break;
            case WireFixed64:
                if (_data.Length - _pos < 8) throw Error("truncated fixed64 field");
                _pos += 8;
                break;
            case WireLengthDelimited: ReadLengthDelimited(out _); break;
            case WireFixed32: ReadFixed32(); break;
            default: throw Error($"invalid protobuf wire type {wire}");
        }
    }

    /// <summary>Reads an int32 varint field as protobuf encodes it (negative values are 10-byte sign-extended).</summary>
    public int ReadInt32()
    {
        long at = Offset;
        long v = (long)ReadVarint();
        if (v is < int.MinValue or > int.MaxValue) throw Error($"int32 field value {v} out of range", at);
        return (int)v;
    }

    public bool ReadBool() => ReadVarint() != 0;

    /// <summary>Throws unless the field arrived with the wire type its declaration implies.</summary>
    public readonly void Expect(int wire, int expected, int field, long tagOffset)
    {
        if (wire != expected)
            throw new ModelFormatException(_source, $"field {field} has wire type {wire}, expected {expected}", tagOffset);
    }
}
