using System.Text;

namespace Elongate.Data;

/// <summary>
/// Built-in generator of long English-like documents with long-range structure, so experiments run on any machine
/// without a corpus. Each document first introduces a cast of people with facts (home city, favourite number,
/// colour, pet); a long body of filler narrative follows in which those facts are recalled at random distances
/// ("As was said before, Tavi Morrel lives in Quenholm."), and it ends with questions and answers about them. A
/// model can predict a recalled fact only by attending back to where it was introduced, so loss on these documents
/// keeps falling with context length only if the model really uses the context.
/// </summary>
public sealed class SyntheticCorpus
{
    private static readonly string[] Onsets = ["b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "dr", "kl", "st", "tr", "qu"];
    private static readonly string[] Vowels = ["a", "e", "i", "o", "u", "ai", "ea", "ou"];
    private static readonly string[] Codas = ["", "", "n", "r", "l", "s", "th", "m", "x"];
    private static readonly string[] Colours = ["red", "blue", "green", "yellow", "purple", "orange", "white", "black", "grey", "brown"];
    private static readonly string[] Pets = ["cat", "dog", "owl", "horse", "goat", "parrot", "rabbit", "tortoise", "fox", "crow"];
    private static readonly string[] Places = ["market", "river", "old mill", "library", "harbour", "orchard", "bridge", "square", "forest", "bakery"];
    private static readonly string[] Objects = ["lantern", "basket", "letter", "map", "coin", "book", "rope", "kettle", "hat", "bell"];
    private static readonly string[] Verbs = ["walked to", "looked at", "talked about", "dreamed of", "hurried past", "painted", "remembered", "sang near"];
    private static readonly string[] Weather = ["The wind was cold that day.", "Rain fell softly on the roofs.", "The sun was warm and bright.", "Fog covered the hills.", "It was a quiet evening."];

    private readonly ulong _seed;

    public SyntheticCorpus(ulong seed) => _seed = seed;

    private sealed record Person(string Name, string City, int Number, string Colour, string Pet);

    /// <summary>
    /// Document <paramref name="index"/> (deterministic for the seed), about <paramref name="words"/> words long,
    /// with <paramref name="people"/> people.
    /// </summary>
    public string Document(int index, int words, int people = 6)
    {
        var rng = new SplitMix64(_seed * 0x9E3779B97F4A7C15UL + (ulong)index + 1);
        string Word(ref SplitMix64 r, int syllables)
        {
            var sb = new StringBuilder();
            for (int i = 0; i < syllables; i++) sb.Append(Onsets[r.NextInt(Onsets.Length)]).Append(Vowels[r.NextInt(Vowels.Length)]);
            sb.Append(Codas[r.NextInt(Codas.Length)]);
            sb[0] = char.ToUpperInvariant(sb[0]);
            return sb.ToString();
        }
        var cast = new List<Person>();
        var used = new HashSet<string>();
        while (cast.Count < people)
        {
            var name = $"{Word(ref rng, 1 + rng.NextInt(2))} {Word(ref rng, 2)}";
            if (!used.Add(name)) continue;
            cast.Add(new Person(name, Word(ref rng, 2 + rng.NextInt(2)), 100 + rng.NextInt(9900), Colours[rng.NextInt(Colours.Length)], Pets[rng.NextInt(Pets.Length)]));
        }

        var doc = new StringBuilder();
        doc.Append("This is the chronicle of ").Append(string.Join(", ", cast.Select(p => p.Name))).Append(".\n");
        foreach (var p in cast)
            doc.Append($"{p.Name} lives in {p.City}. The favourite number of {p.Name} is {p.Number}. {p.Name} likes the colour {p.Colour} and keeps a {p.Pet}.\n");

        int Count() => doc.Length / 6; // ≈ words, for sizing only
        while (Count() < words)
        {
            var p = cast[rng.NextInt(cast.Count)];
            switch (rng.NextInt(6))
            {
                case 0: doc.Append(Weather[rng.NextInt(Weather.Length)]).Append(' '); break;
                case 1: doc.Append($"As was said before, {p.Name} lives in {p.City}. "); break;
                case 2: doc.Append($"Everyone knew that the favourite number of {p.Name} was {p.Number}. "); break;
                case 3: doc.Append($"{p.Name} came home to the {p.Pet}, which was waiting by the {Colours[rng.NextInt(Colours.Length)]} door. "); break;
                default:
                    var q = cast[rng.NextInt(cast.Count)];
                    doc.Append($"{p.Name} {Verbs[rng.NextInt(Verbs.Length)]} the {Places[rng.NextInt(Places.Length)]} with a {Objects[rng.NextInt(Objects.Length)]}, and {q.Name} followed. ");
                    break;
            }
            if (rng.NextInt(8) == 0) doc.Append('\n');
        }
        doc.Append("\n");
        foreach (var p in cast)
            doc.Append($"Question: Where does {p.Name} live? Answer: {p.City}.\nQuestion: What is the favourite number of {p.Name}? Answer: {p.Number}.\n");
        return doc.ToString();
    }
}
