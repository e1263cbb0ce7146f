using Elongate.Training;

namespace Elongate.Tests.Training;

public class ModelPresetTests
{
    [Fact]
    public void Presets_have_their_nominal_size()
    {
        foreach (var (name, nominal) in new[] { ("1m", 1e6), ("5m", 5e6), ("20m", 20e6), ("100m", 100e6) })
        {
            long n = ModelPresets.NonEmbeddingParameters(ModelPresets.Create(name, 32000, 256));
            Assert.InRange(n, 0.8 * nominal, 1.05 * nominal);
        }
        var c = ModelPresets.Create("5m", 512, 128);
        var m = new LlamaTrainingModel<float>(c, 1, 8);
        Assert.Equal(m.Parameters.Length, ModelPresets.NonEmbeddingParameters(c) + 2L * 512 * c.HiddenSize);
        Assert.Throws<ArgumentException>(() => ModelPresets.Dimensions("7b"));
    }
}
