import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';

async function bootstrap() {
  const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
  app.enableShutdownHooks();
  await app.listen(Number(process.env.PORT ?? 0), '127.0.0.1');
  // The smoke-test runner waits for this marker line.
  console.log(`LISTENING ${await app.getUrl()}`);
}

bootstrap().catch((err) => {
  console.error(err);
  process.exit(1);
});
