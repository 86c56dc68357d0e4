import { Injectable } from '@nestjs/common';

export interface Note {
  id: number;
  text: string;
  /** Who wrote it: the token's `sub` (a user id, or the client id for client-credentials tokens). */
  author: string;
  createdAt: string;
}

/** In-memory notes: the sample has no database, data is lost on restart. */
@Injectable()
export class NotesService {
  private readonly notes: Note[] = [
    {
      id: 1,
      text: 'Welcome! This note was created at startup.',
      author: 'sample',
      createdAt: new Date().toISOString(),
    },
  ];
  private nextId = 2;

  list(): Note[] {
    return [...this.notes];
  }

  create(text: string, author: string): Note {
    const note: Note = { id: this.nextId++, text, author, createdAt: new Date().toISOString() };
    this.notes.push(note);
    return note;
  }
}
