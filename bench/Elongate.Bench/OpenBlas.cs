using System.Runtime.InteropServices;

namespace Elongate.Bench;

/// <summary>The reference sgemm: Debian's libopenblas0(-pthread), loaded at run time so the bench still runs without it.</summary>
internal static unsafe partial class OpenBlas
{
    private const string Lib = "libopenblas.so.0";
    public const int RowMajor = 101, NoTrans = 111, Trans = 112;

    [LibraryImport(Lib)] public static partial void cblas_sgemm(int order, int transA, int transB, int m, int n, int k,
        float alpha, float* a, int lda, float* b, int ldb, float beta, float* c, int ldc);
    [LibraryImport(Lib)] public static partial void cblas_sgemv(int order, int trans, int m, int n, float alpha, float* a, int lda,
        float* x, int incx, float beta, float* y, int incy);
    [LibraryImport(Lib)] public static partial void openblas_set_num_threads(int n);
    [LibraryImport(Lib)] public static partial int openblas_get_num_threads();
    [LibraryImport(Lib)] private static partial nint openblas_get_corename();
    [LibraryImport(Lib)] private static partial nint openblas_get_config();

    /// <summary>Null when the library cannot be loaded, else the reason is in <paramref name="error"/>.</summary>
    public static bool TryLoad(out string error)
    {
        try
        {
            NativeLibrary.Load(Lib);
            error = "";
            return true;
        }
        catch (DllNotFoundException e)
        {
            error = e.Message;
            return false;
        }
    }

    public static string CoreName => Marshal.PtrToStringUTF8(openblas_get_corename()) ?? "?";
    public static string Config => Marshal.PtrToStringUTF8(openblas_get_config()) ?? "?";
}
