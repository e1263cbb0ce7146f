using Elongate.Formats;
using Elongate.Model;

namespace Elongate.Tests.Model;

/// <summary>
/// Greedy generation reproduces llama2.c's run.c token for token (PROVENANCE.md §1 and §2 in the fixtures):
/// the strongest end-to-end check of the loader, RoPE, GQA, the KV cache and the sampler together.
/// </summary>
public class GoldenGenerationTests
{
    private const string StoriesIds = "403 407 261 378 432 383 286 261 376 298 315 421 395 317 426 338 401 396 267 337 410 408 419 292 411 322 265 282 295 433 426 385 328 432 358 394 261 370 432 352 266 268 388 426 338 391 266 267 337 335 312 432 398 312 286 267 414 270 333 415 426 13 438 310 439 419 357 336 432 313 438 310 432 278 316 439 419 298 414 267 265 282 295 433 426 436 317 286 296 418 269 279 292 416 439 413 409 416 327 263 415 294 267 400 426 338 336 432 313 442 391 267 337 335 364 420 268 388 432 398 359 280 303 439 413 272 417 264 312 426 436 13 438 310 286 296 418 269 279 292 416 439 413 409 416 327 263 415 294 267 400 426 338 336 432 313 442 439 423 262 304 420 422 432 317 426 359 279 292 416 439 413 409 416 327 263 415 294 267 400 426 436 13 438 310 279 292 416 439 413 391 267 281 421 427 311 357 432 384 358";
    private const string AidreamsIds = "319 459 355 260 275 429 339 315 374 327 446 262 421 392 275 280 269 440 270 283 446 299 303 266 358 430 312 379 441 260 446 262 421 392 275 280 269 440 270 283 446 299 303 384 467 407 360 266 291 443 435 295 448 429 465 265 434 317 431 434 289 408 326 446 262 266 437 443 434 438 451 306 295 445 434 432 339 279 432 375 410 275 280 269 440 270 283 448 429 465 265 434 317 431 434 389 437 393 446 299 303 266 432 445 439 265 325 275 429 339 315 374 448 429 465 265 434 317 431 434 289 418 321 278 416 446 262 421";

    internal static int[] Ids(string s) => s.Split(' ').Select(int.Parse).ToArray();

    /// <summary>run.c with an empty prompt: start at BOS and generate greedily (run.c's `steps` counts positions from BOS).</summary>
    internal static List<int> GreedyLikeRunC(LlamaModel model, int steps)
    {
        var generated = new List<int>();
        TextGenerator.Generate(new InferenceSession(model), [model.Config.BosTokenId], steps, new Sampler(SamplingOptions.Greedy), generated.Add);
        return generated;
    }

    [SkippableFact]
    public void Stories260K_greedy_200_steps_matches_llama2c()
    {
        var model = Llama2cCheckpoint.Read(Fixtures.Path("models/stories260K.bin"));
        Assert.Equal(Ids(StoriesIds), GreedyLikeRunC(model, 200));
    }

    [SkippableFact]
    public void Aidreams260K_greedy_128_steps_matches_llama2c()
    {
        var model = Llama2cCheckpoint.Read(Fixtures.Path("models/aidreams260K.bin"));
        Assert.Equal(128, model.Config.MaxPositionEmbeddings);
        Assert.Equal(Ids(AidreamsIds), GreedyLikeRunC(model, 128));
    }

    [SkippableFact]
    public void Batched_prompt_gives_the_same_logits_as_token_by_token()
    {
        var model = Llama2cCheckpoint.Read(Fixtures.Path("models/stories260K.bin"));
        var tokens = Ids(StoriesIds).Take(100).Prepend(1).ToArray();
        var batched = new InferenceSession(model, batchSize: 32).ForwardAll(tokens);
        var single = new InferenceSession(model, batchSize: 1);
        for (int t = 0; t < tokens.Length; t++)
        {
            var logits = single.Forward(tokens[t]);
            for (int v = 0; v < logits.Length; v++)
                Assert.Equal(batched[t][v], logits[v], 1e-4f); // same math, different thread split: summation order may differ
        }
    }
}
