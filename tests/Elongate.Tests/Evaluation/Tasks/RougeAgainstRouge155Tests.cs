using Elongate.Evaluation;
using Elongate.Evaluation.Tasks;

namespace Elongate.Tests.Evaluation.Tasks;

// rouge-score's own consistency tests against ROUGE-1.5.5 (rouge/rouge_scorer_test.py): the scrambled lines of its
// testdata/target.txt, prediction.txt and pyrouge_files/*_multi.0.txt exercise the tokenizer (punctuation inside
// words, capitals) and, with stemming, the NLTK Porter stemmer on -ing/-tion/-er endings; the expected numbers are
// ROUGE-1.5.5's, quoted to five places as in that file.
public class RougeAgainstRouge155Tests
{
    private const string Target0 = """
        ZfbCUIUuePaiLVUlCaUXxkpu XPeWing tUHfPMuZ',-Xd Y BrUgVJing M-HV.-DgdDaY.rFDJCRing Ht-LM EKBDXkME,yz'RBr q'wtion wIojNbN wL,b .a-'XdQggyFl jB-RPP'iyOIcUxer tKM L
        """;
    private const string Target1 = """
        KsJdPByEtAor fE-Qg Dpdbring cw-WeFyu vC MoBL Xdn g wkvcEiGvKtion BDFhrpMtion psing sbKao Q m qiing LMmer HqqLFXe,XPY,J XsurkMer ,ed nB'wH'bWVHjWFEing tQ.saefZwJtKrTlixYpMMsJing UCAPwNHeYVjDing c T BUySKtion gMPfJpwGw p'NvxAoping eu pBwMBKV'I DNxqelhu,PHPxDEq,mtion SN
        """;
    private const string Prediction0 = """
        rFDJCRtion Ht-LM EKtDXkME,yz'RBr q'wer wrojNbN wL,b .a-'XdQggyFl jB-RPP'iyOIcUxi
        """;
    private const string Prediction1 = """
        n cw-WeFyu vC MoBL Xdn g wkvcEiGvKtion BDFhrpMer pstion sbKao Q m qier LMmed HqqLFXe,XPY,J XsurkMeo ,ed nB'wH'bWVHjWFEer tQ.saefZwJtKrTlixYpMMNJtion UCAPwNHeYVjD
        """;
    private const string TargetMulti = """
        ZfbCUIUuePaiLVUlCaUXxkpu XPeWing tUHfPMuZ',-Xd Y BrUgVJing M-HV.-DgdDaY.rFDJCRing Ht-LM EKBDXkME,yz'RBr q'wtion wIojNbN wL,b .a-'XdQggyFl jB-RPP'iyOIcUxer tKM L
        KsJdPByEtAor fE-Qg Dpdbring cw-WeFyu vC MoBL Xdn g wkvcEiGvKtion BDFhrpMtion psing sbKao Q m qiing LMmer HqqLFXe,XPY,J XsurkMer ,ed nB'wH'bWVHjWFEing tQ.saefZwJtKrTlixYpMMsJing UCAPwNHeYVjDing c T BUySKtion gMPfJpwGw p'NvxAoping eu pBwMBKV'I DNxqelhu,PHPxDEq,mtion SN
        NhETebUbBk'er WOvoHMTjSRizKgH'vHiing Xu,hWxfs VkNE QhgKiLHE -HidivzoM.dO anhtion jbLQiSGDTCsuhREebUaKM dv J dVN tmbOT
        vMR HDm,xOAetion D,tion HJtodT.mHl UIv-p VjWH'BdyWjnfGU-OjT aEMdFICyLWfQMtion wEMfdOKing AwkeKbO 'DxqNOHBH qKtVvm OYJl mM
        """;
    private const string PredictionMulti = """
        rFDJCRtion Ht-LM EKtDXkME,yz'RBr q'wer wrojNbN wL,b .a-'XdQggyFl jB-RPP'iyOIcUxi
        n cw-WeFyu vC MoBL Xdn g wkvcEiGvKtion BDFhrpMer pstion sbKao Q m qier LMmed HqqLFXe,XPY,J XsurkMeo ,ed nB'wH'bWVHjWFEer tQ.saefZwJtKrTlixYpMMNJtion UCAPwNHeYVjD
        xfs VkJE QhgKiLHE -HidivzoM.dO anhing jbLQiSGDTCsuhREebUaKM dv J
        VjWH'BdyWjnfGU-OjTNaEMdFICyLWfQMing wEMfdOKijg AwkeKbO 'DxqNO
        """;

    [Fact]
    public void Rouge1_and_rougeL_without_stemming()
    {
        var a = Rouge.Score(Target0 + "\n", Prediction0 + "\n");
        Assert.Equal((0.40741, 0.68750, 0.51163), Five(a.Rouge1));
        Assert.Equal((0.40741, 0.68750, 0.51163), Five(a.RougeL));
        var b = Rouge.Score(Target1 + "\n", Prediction1 + "\n");
        Assert.Equal((0.40476, 0.65385, 0.50000), Five(b.Rouge1));
        Assert.Equal((0.40476, 0.65385, 0.50000), Five(b.RougeL));
    }

    [Fact]
    public void Rouge2_with_and_without_stemming()
    {
        foreach (bool stem in new[] { false, true })
        {
            Assert.Equal((0.30769, 0.53333, 0.39024), Five(Rouge.Score(Target0, Prediction0, stem).Rouge2));
            Assert.Equal((0.29268, 0.48000, 0.36364), Five(Rouge.Score(Target1, Prediction1, stem).Rouge2));
        }
    }

    [Fact]
    public void Rouge1_with_stemming()
    {
        Assert.Equal((0.40741, 0.68750, 0.51163), Five(Rouge.Score(Target0, Prediction0, useStemmer: true).Rouge1));
        // Stemming makes more tokens of the second pair meet (recall 0.40476 → 0.42857).
        Assert.Equal((0.42857, 0.69231, 0.52941), Five(Rouge.Score(Target1, Prediction1, useStemmer: true).Rouge1));
    }

    [Fact]
    public void RougeLsum_with_stemming_on_multi_sentence_texts() =>
        Assert.Equal((0.36538, 0.66667, 0.47205), Five(Rouge.RougeLsum(TargetMulti, PredictionMulti, useStemmer: true)));

    [Fact]
    public void RougeLsum_unions_the_lcs_of_each_prediction_sentence()
    {
        // rouge_scorer_test.testRougeLsum (Lin 2004, section 3.2): LCS [w1 w2] and [w1 w3 w5] → union of 4 of 5
        // reference tokens; recall 4/5, precision 4/10.
        var s = Rouge.RougeLsum("w1 w2 w3 w4 w5", "w1 w2 w6 w7 w8\nw1 w3 w8 w9 w5");
        Assert.Equal(0.8, s.Recall, 12);
        Assert.Equal(0.4, s.Precision, 12);
        Assert.Equal(0.5333, s.FMeasure, 4);
        Assert.Equal(new RougeScore(0, 0, 0), Rouge.RougeLsum("w1 w2 w3 w4 w5", ""));
        Assert.Equal(new RougeScore(0, 0, 0), Rouge.RougeLsum("", "w1"));
        Assert.Equal(new RougeScore(0, 0, 0), Rouge.RougeLsum("w1 w2 w3 w4 w5", "/"));
        // On one line it is plain ROUGE-L.
        Assert.Equal(Rouge.Score("a b c d", "a c b d").RougeL, Rouge.RougeLsum("a b c d", "a c b d"));
    }

    [Fact]
    public void Lcs_backtracking_picks_rouge_scores_subsequence()
    {
        // rouge_scorer_test.testLcsTable: ref [1 2 3 4 5], candidate [2 5 3 4] → indices [1, 2, 3].
        Assert.Equal([1, 2, 3], Rouge.LcsIndices(["1", "2", "3", "4", "5"], ["2", "5", "3", "4"]));
        Assert.Empty(Rouge.LcsIndices(["1", "2", "3", "4", "5"], ["8", "9"]));
    }

    private static (double, double, double) Five(RougeScore s) =>
        (Math.Round(s.Recall, 5), Math.Round(s.Precision, 5), Math.Round(s.FMeasure, 5));
}
