namespace MoeLab.Metrics; public static class Placeholder {}
